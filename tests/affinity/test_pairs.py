from tasktransfer.affinity.pairs import brute_force_pairs, needed_pairs, sample_pairs

TASKS = [f"t{i}" for i in range(8)]


def test_sample_is_ordered_pairs_without_self_pairs():
    pairs = sample_pairs(TASKS, 20, seed=0)
    assert len(pairs) == len(set(pairs)) == 20
    assert all(s != t and s in TASKS and t in TASKS for s, t in pairs)


def test_raising_m_only_adds_pairs():
    small, large = sample_pairs(TASKS, 10, seed=3), sample_pairs(TASKS, 25, seed=3)
    assert large[:10] == small


def test_adding_a_task_never_brings_in_an_old_unsampled_pair():
    before = set(sample_pairs(TASKS, 15, seed=1))
    after = set(sample_pairs([*TASKS, "new"], 15, seed=1))
    added = after - before
    assert added, "with 8 more candidate pairs some should enter the sample"
    assert all("new" in pair for pair in added)


def test_seed_changes_the_sample_and_order_of_input_does_not():
    assert sample_pairs(TASKS, 10, seed=0) != sample_pairs(TASKS, 10, seed=1)
    assert sample_pairs(TASKS, 10, seed=0) == sample_pairs(list(reversed(TASKS)), 10, seed=0)


def test_m_larger_than_all_pairs_gives_all():
    assert len(sample_pairs(TASKS[:3], 100, seed=0)) == 6


def test_needed_pairs_are_the_source_sample_plus_brute_force_once_each():
    sources, targets = TASKS[:5], ["x", "y"]
    pairs = needed_pairs(sources, targets, m=6, seed=0)
    assert len(pairs) == len(set(pairs)) == 6 + 10
    expected = set(sample_pairs(sources, 6, 0)) | {(s, t) for s in sources for t in targets}
    assert set(pairs) == expected
    # targets stay out of the scorer's sample and never serve as a source: a run that sampled
    # among sources and targets together would put a target's pairs into the scorer's training
    assert not any(s in targets for s, _ in pairs)
    assert [p for p in pairs if p[1] not in targets] == sorted(sample_pairs(sources, 6, 0))


def test_brute_force_skips_self_pairs_and_is_ordered():
    assert brute_force_pairs(["b", "a", "t"], ["t", "u"]) == [("a", "t"), ("b", "t"), ("a", "u"), ("b", "u"), ("t", "u")]

# Paths of a run's files, filled from the one home of every pattern (tasktransfer/run_layout.py,
# imported as `layout`): rules use a pattern as is, input functions fill it here. No rules here.
from tasktransfer.data.package_fetch import PACKAGES


def task_data(task):
    """A prepared task's folder (train.jsonl, dev.jsonl, meta.json)."""
    return layout.fill(layout.DATA_DIR, task=task)


def meta_file(task):
    return layout.fill(layout.META, task=task)


def prompt_file(task, seed):
    """A pool (source-role) prompt."""
    return layout.fill(layout.PROMPT, task=task, seed=seed)


def prompt_metrics(task, seed):
    return layout.fill(layout.PROMPT_METRICS, task=task, seed=seed)


def target_root(size=SIZE):
    """The target-role runs of one size (what `--target-prompts` of the scorer reads)."""
    return layout.fill(layout.TARGET_ROOT, size=size)


def target_prompt_file(task, seed, size=None):
    """A target-role run's prompt (its task embedding on the target side), at the task's size."""
    size = size or target_size(task)
    return layout.fill(layout.TARGET_PROMPT, task=task, seed=seed, size=size)


def target_metrics(task, seed, size=None):
    """A target-role run's metrics (r1), at the task's size."""
    size = size or target_size(task)
    return layout.fill(layout.TARGET_METRICS, task=task, seed=seed, size=size)


def transfer_metrics(source, target, seed, size=None):
    """A transfer run's metrics (r2), at the target's size."""
    size = size or target_size(target)
    return layout.fill(
        layout.TRANSFER_METRICS, source=source, target=target, seed=seed, size=size
    )


def gains_file(name):
    """Per-seed gains of one list of pairs (scorer_pairs, target_pairs, control_pairs)."""
    return layout.fill(layout.GAINS, name=name)


def features_file(task):
    """Pair features of every source for one target-role task (`tasktransfer features`)."""
    return layout.fill(layout.FEATURES, task=task)


def loto_gains_file(target):
    return layout.fill(layout.LOTO_GAINS, target=target)


def ranking_file(method, target):
    return layout.fill(layout.RANKING, method=method, target=target)


def file_list(name):
    return layout.fill(layout.FILE_LIST, name=name)


def pool_root(wildcards, input):
    """The pool prompts' folder (`--prompts`) as the job sees it: three levels above a source's
    prompt (results/prompts/{task}/seed{s}/prompt.safetensors), so that it follows the inputs
    wherever a storage plugin puts them."""
    return os.path.dirname(os.path.dirname(os.path.dirname(input.sources[0])))


def package_marker(kind):
    """The fetched-archive marker of a data package: its pin is in the name, so a new pin reruns
    the package's tasks (and only those)."""
    ref = PACKAGES[kind]
    return f"{config['resources_dir']}/packages/{kind}-{ref.version}.fetched"


def repo_marker(repo):
    """The fetched-archive marker of an upstream repository at its pinned commit."""
    return f"{config['resources_dir']}/github/{repo.name}-{repo.commit}.fetched"

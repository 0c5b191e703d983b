"""bench/gpu.py (and bench/throughput.py --replicas) run on the CPU with a tiny encoder: the first
GPU session can run the GPU measurement in one command (docs/measured.md)."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import REPO


def test_gpu_bench_measures_each_replica_count_on_a_tiny_encoder():
    cmd = [sys.executable, str(REPO / "bench" / "gpu.py"), "--device", "cpu", "--shapes", "tiny", "--replicas", "1", "2",
           "--steps", "2", "--warmup", "1", "--precision", "fp32", "--threads", "1", "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True)
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert [(r["shape"], r["replicas"], r["device_batch"]) for r in rows] == [("tiny", 1, 16), ("tiny", 2, 32)]
    for row in rows:
        assert row["examples_per_s"] > 0 and row["model_tflops"] > 0 and row["step_ms"] > 0
        assert row["peak_share"] is None and row["peak_memory_mib"] is None  # no GPU here


def test_gpu_bench_shapes_are_the_papers_and_the_defaults():
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import gpu
    finally:
        sys.path.pop(0)
    layers, hidden, heads, ffn, _, length, tokens = gpu.SHAPES["paper"]
    assert (layers, hidden, heads, ffn, length, tokens) == (24, 1024, 16, 4096, 50, 128)
    assert gpu.SHAPES["minilm"][:4] == (6, 384, 12, 1536) and gpu.SHAPES["minilm"][5:] == (20, 64)

"""Soft prompts on a frozen encoder: the prompt pool's and every transfer's training.

- :mod:`~tasktransfer.prompting.backbone`: the frozen pretrained encoder (package, local folder or hub name)
- :mod:`~tasktransfer.prompting.prompt_encoder`: L token vectors through a two-layer MLP, prepended to the input
- :mod:`~tasktransfer.prompting.formats`: per task format, the tensors, head, loss and score
- :mod:`~tasktransfer.prompting.training`: the training loop (r1 from scratch, r2 from a source prompt)
- :mod:`~tasktransfer.prompting.loop_steps`: what prompt tuning and full fine-tuning share (steps, batches, dev scores)
- :mod:`~tasktransfer.prompting.tune_run`: tune one prompt and save it as a run (CLI and ``rank --pool``)
- :mod:`~tasktransfer.prompting.prompt_files`: prompt files on disk (safetensors + metadata)
- :mod:`~tasktransfer.prompting.control`: the control init (mean prompt, shuffled labels)
- :mod:`~tasktransfer.prompting.control_job`: the control's job, written as a source's prompt and record
- :mod:`~tasktransfer.prompting.transfer_job`: a transfer job (r1 read, r2 tuned, the gain written)
- :mod:`~tasktransfer.prompting.finetune`: full fine-tuning (the paper's Table 3 analysis)
- :mod:`~tasktransfer.prompting.finetune_job`: the fine-tuning job and its record
"""

__all__ = ["backbone", "control", "finetune", "formats", "prompt_encoder", "prompt_files", "training", "tune_run"]

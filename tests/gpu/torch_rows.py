# torch_rows.py: the PyTorch rows that tests/gpu/check.sh sets beside fn's, in one call on the GPU machine.
#
#   python3 tests/gpu/torch_rows.py REF_DIR      (REF_DIR holds shared/reference's torch_bench.py)
#
# It reuses torch_bench.py's functions (that file is shared and not ours to edit) but runs only PyTorch's
# best setting per precision, so that the whole check fits its time: training fp32 (TF32 off, NCHW), TF32
# channels-last, bf16 autocast channels-last, and fp32 with torch.use_deterministic_algorithms(True)
# (warn_only: nearest upsampling's backward has no deterministic CUDA kernel; cudnn.deterministic set) for
# fn's --deterministic; inference fp32, TF32, bf16 channels-last (batch 32). Writes $OUT/torch_bench.json
# with torch_bench.py's keys plus train_fp32_det_bs8_cin3_img_s and _peakGiB; prints it last.
import json
import os
import sys
import warnings

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS, should any op use it
sys.path.insert(0, sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../ext/reference"))
import torch  # noqa: E402
import torch_bench as tb  # noqa: E402

tb.guard("params", tb.params)
for mode, cl in (("fp32", False), ("tf32", True), ("bf16", True)):
    tb.guard(f"train_{mode}_{cl}", tb.train_speed, 3, 8, 256, mode, cl)
for mode, cl in (("fp32", False), ("tf32", False), ("bf16", True)):
    tb.guard(f"infer_{mode}", tb.infer_speed, 3, 32, 256, mode, cl)

# deterministic fp32 training, under its own key
fast = {k: v for k, v in tb.res.items() if k.startswith("train_fp32_bs8")}
warnings.filterwarnings("ignore", message=".*deterministic.*")
torch.use_deterministic_algorithms(True, warn_only=True)
torch.backends.cudnn.deterministic = True
tb.guard("train_fp32_det", tb.train_speed, 3, 8, 256, "fp32", False)
for k in list(tb.res):
    if k.startswith("train_fp32_bs8"):
        tb.res[k.replace("train_fp32_", "train_fp32_det_")] = tb.res[k]
tb.res.update(fast)
torch.use_deterministic_algorithms(False)
torch.backends.cudnn.deterministic = False

with open(os.path.join(tb.OUT, "torch_bench.json"), "w") as f:
    json.dump(tb.res, f, indent=1)
print(json.dumps(tb.res, indent=1))

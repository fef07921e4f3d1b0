# Makes the golden fixtures in this folder with the independent PyTorch reference
# (../shared/reference/golden.py, float64): python3 tests/golden/make.py [SHARED]
# A second case beside ../shared/golden's: three input channels, a non-square size.
import os, sys
here = os.path.dirname(os.path.abspath(__file__))
shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "..", "shared")
sys.path.insert(0, os.path.join(shared, "reference"))
import golden  # noqa: E402
print(golden.case(os.path.join(here, "focusnet_c3_2x48x32.safetensors"), 3, 2, 48, 32, "cpu"))

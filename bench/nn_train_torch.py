"""PyTorch single-thread counterpart of bench/nn-train.ts: same network (128→256→128→1, ReLU),
batch 256, Adam(lr=1e-3), MSE. Prints one JSON line: {"stepsPerSec": median over runs,
"cpuStepsPerSec": steps per second of process CPU time, ...}. Debian's torch does its GEMMs through
libblas.so.3: with only the reference BLAS installed it is ~15x slower than with OpenBLAS
(apt install libopenblas0-pthread), so the script reports which one is loaded."""
import json, os, sys, time
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch

torch.set_num_threads(1)
torch.manual_seed(0)
runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
secs = float(sys.argv[2]) if len(sys.argv) > 2 else 1.5
out = int(sys.argv[3]) if len(sys.argv) > 3 else 1
B = 256
net = torch.nn.Sequential(torch.nn.Linear(128, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128), torch.nn.ReLU(), torch.nn.Linear(128, out))
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
X = torch.randn(B, 128)
Y = torch.sin(X[:, :out] * 2.0) + 0.5 * X[:, out:2 * out]
loss_fn = torch.nn.MSELoss()

def step():
    opt.zero_grad()
    loss = loss_fn(net(X), Y)
    loss.backward()
    opt.step()
    return loss

for _ in range(30):
    step()
rates, cpu_rates = [], []
for _ in range(runs):
    n = 0
    t0, c0 = time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < secs:
        step()
        n += 1
    rates.append(n / (time.perf_counter() - t0))
    cpu_rates.append(n / max(time.process_time() - c0, 1e-9))
rates.sort()
cpu_rates.sort()

def blas():
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line}
        return ", ".join(sorted(os.path.basename(os.path.dirname(l)) + "/" + os.path.basename(l) for l in libs))
    except OSError:
        return "unknown"

print(json.dumps({"stepsPerSec": rates[len(rates) // 2], "cpuStepsPerSec": cpu_rates[len(cpu_rates) // 2], "runs": rates,
                  "finalLoss": float(step()), "torch": torch.__version__, "blas": blas()}))

#!/usr/bin/env python3
"""Times timm's dm_nfnet_f0 training step on the GPU: the figure nfvk's
TrainStep/f0-192px-b32 is set beside (tools/gpu-check/run.sh).

One step is forward, label-smoothed cross-entropy, backward, adaptive
gradient clipping (timm's adaptive_clip_grad, clip 0.01 as its F0 recipe)
and SGD with Nesterov momentum: the same work as nfvk's step, less the EMA.
Modes: eager fp32, and eager AMP (fp16 autocast with a GradScaler), each
the median of --steps timed steps after --warmup untimed ones, with
torch.cuda.synchronize() around each step (wall time, as nfvk's images/s).
"""
import argparse
import json
import statistics
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()

    import torch
    import timm
    from timm.utils.agc import adaptive_clip_grad

    if not torch.cuda.is_available():
        print(json.dumps({"error": "no CUDA device: timm comparison skipped"}))
        return 0
    dev = torch.device("cuda")
    torch.backends.cudnn.benchmark = True
    # fp32 means fp32: no TF32 in convolutions or matmuls.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False

    results = {"torch": torch.__version__, "timm": timm.__version__,
               "gpu": torch.cuda.get_device_name(0), "batch": args.batch, "size": args.size}
    for mode in ("fp32", "amp"):
        torch.manual_seed(0)
        model = timm.create_model("dm_nfnet_f0", num_classes=1000).to(dev).train()
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-5)
        loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
        scaler = torch.amp.GradScaler("cuda", enabled=(mode == "amp"))
        x = torch.randn(args.batch, 3, args.size, args.size, device=dev)
        y = torch.randint(0, 1000, (args.batch,), device=dev)

        def step():
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cuda", dtype=torch.float16, enabled=(mode == "amp")):
                loss = loss_fn(model(x), y)
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            adaptive_clip_grad(model.parameters(), clip_factor=0.01)
            scaler.step(opt)
            scaler.update()

        torch.cuda.reset_peak_memory_stats()
        for _ in range(args.warmup):
            step()
        torch.cuda.synchronize()
        times = []
        for _ in range(args.steps):
            t0 = time.perf_counter()
            step()
            torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        results[mode] = {"step_ms": med * 1e3, "images/s": args.batch / med,
                         "peak_MiB": torch.cuda.max_memory_allocated() / 2**20}
        del model, opt
        torch.cuda.empty_cache()
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

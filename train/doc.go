// Package train runs NFNets: the Session that owns a model's compiled
// graphs on a device (the training step with its optimizer and EMA, and
// the eval pass), the training loop (Train: step, evaluate the EMA weights
// each epoch, checkpoint), Parity against a PyTorch reference, and the
// pieces of a run: checkpoints, the metrics log and its plot, progress
// reporting and run directories. cmd/nfvk is a thin layer over it.
//
// # Session
//
// NewSession builds the graphs of nfnet (BuildTrain, BuildEval), compiles
// them with graph/gpu (or, without a device, runs them on the float32 CPU
// references) and records them once. Per step the host writes the batch
// and the step's values (agc.Schedule.At: learning rate, EMA decay, ...)
// and submits (Submit, Wait); SetState and ReadState move parameters,
// momentum and EMA; Evaluate and Forward run the eval pass on the current
// or the EMA weights.
//
// Everything here is a library: no globals, no os.Exit or log.Fatal, errors
// wrapped with the file and field concerned, and time passed in where a
// result depends on it.
//
// # Run directories
//
// NewRun creates runs/<name>, or runs/<UTC timestamp> without a name, and
// OpenRun reopens one to resume. A run directory holds
//
//	metrics.jsonl                 one JSON line per epoch (MetricsWriter)
//	metrics.png                   loss and accuracy per epoch (WritePlot)
//	ckpt-<step, 12 digits>.safetensors   checkpoints (Run.SaveCheckpoint)
//
// and LatestCheckpoint finds the checkpoint to resume from.
//
// # Checkpoints
//
// A Checkpoint is one safetensors file: tensors param/NAME, ema/NAME and
// momentum/NAME (F32, NAME the nfnet parameter name), and in __metadata__
// the format ("nfvk.checkpoint", version 1), step, completed epochs, steps
// per epoch, the data position to resume at, the seeds, the model config,
// the loop's run options, a metrics summary and CRC-32C checksums of each
// tensor and of the metadata. SaveCheckpoint writes it atomically (temporary
// file, fsync, rename, directory fsync), so a crash or SIGKILL leaves the
// previous checkpoint intact; LoadCheckpoint verifies everything, down to
// the checksums, and CheckCompatible refuses a checkpoint of another model.
//
// nfvk's generators are counter-based (the data pipeline is a function of
// its seed and data.Position; dropout draws from Philox keyed by the seed
// and a stream the loop derives from the step), so the seeds, Step and
// Position are the whole random state (RNGState), and a resumed run can
// reproduce the uninterrupted one exactly.
//
// # What the loop does with these
//
//  1. NewRun or OpenRun; on resume LoadCheckpoint(LatestCheckpoint(dir)),
//     CheckCompatible with the model, ResumeMetrics(path, ckpt.Epoch), and
//     data.Config.Start = ckpt.Position; else CreateMetrics.
//  2. agc.NewSchedule of the recipe; per step Schedule.At(step) gives the
//     step's values the recorded step reads.
//  3. Per step, Meter.Observe and Progress.Update; per epoch, evaluate,
//     MetricsWriter.Append, Progress.EpochDone, Run.SaveCheckpoint with
//     Summarize(metrics), WritePlot. On cancellation (Ctrl-C), save a
//     checkpoint at the current Position and return.
//
// # Data-parallel
//
// With Options.Collective of N ranks (package mpi under mpirun or srun)
// each rank runs this loop on its own device: the same global batches,
// of which it steps its slice; the step's gradients summed over the
// ranks in buckets as the backward pass completes them (SessionOptions.
// Collective, nfnet.TrainOptions.Replicas) before AGC and the update; the
// loss, hits, evaluation and a stop on cancellation agreed through the
// Collective; only rank 0 writing the run directory. Checkpoints are
// those of one process, so a run resumes under any rank count.
package train

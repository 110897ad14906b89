package engine

// PipelineCachePath is the file the pipeline cache is loaded from and
// saved to, "" when there is none (Options.PipelineCachePath, or the
// per-device file in Options.PipelineCacheDir).
func (d *Device) PipelineCachePath() string { return d.opts.PipelineCachePath }

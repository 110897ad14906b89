package train

import (
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// ProgressUpdate is what the training loop reports after a step.
type ProgressUpdate struct {
	// Epoch is the epoch in progress, from 1, of Epochs.
	Epoch, Epochs int
	// Step is the number of steps done in this epoch, 1..StepsPerEpoch.
	Step, StepsPerEpoch int
	// Loss and Acc are the running mean training loss and top-1 accuracy
	// (0-1) over the epoch so far.
	Loss, Acc float64
	// ImagesPerS is the recent training throughput.
	ImagesPerS float64
	// ETA is the predicted time to the end of the run; negative when not
	// yet known.
	ETA time.Duration
}

// Progress receives a run's progress. The loop calls Update after steps
// (as often as it likes; implementations throttle), EpochDone with each
// epoch's metrics, and Close at the end. Calls come from one goroutine.
type Progress interface {
	Update(ProgressUpdate)
	EpochDone(EpochMetrics)
	Close() error
}

// ProgressFunc adapts a function to Progress; EpochDone and Close do
// nothing.
type ProgressFunc func(ProgressUpdate)

func (f ProgressFunc) Update(u ProgressUpdate) { f(u) }
func (f ProgressFunc) EpochDone(EpochMetrics)  {}
func (f ProgressFunc) Close() error            { return nil }

// TerminalOptions configure NewTerminalProgress.
type TerminalOptions struct {
	// Bar forces the progress bar on (true) or off (false); nil decides by
	// whether the writer is a terminal.
	Bar *bool
	// Every is how many steps apart the plain (non-bar) output prints a
	// line; 0 means 50. The last step of each epoch always prints.
	Every int
	// Throttle is the shortest interval between two redraws of the bar
	// (the last step of an epoch always redraws); 0 means 100 ms.
	// Redrawing every step would cost more than a small model's step on a
	// fast device, and flicker.
	Throttle time.Duration
}

// TerminalProgress shows progress on a terminal as a bar with loss,
// accuracy, images/s and ETA, redrawn in place; on anything else (a log
// file, a pipe) it prints one plain line every few steps instead, since
// redraws would fill the log with carriage returns. Each epoch ends with a
// line of its metrics.
type TerminalProgress struct {
	w     io.Writer
	opts  TerminalOptions
	bar   *progressbar.ProgressBar
	epoch int       // epoch the bar belongs to
	drawn time.Time // last redraw, for throttling
	useB  bool
	mu    sync.Mutex
}

// NewTerminalProgress returns a Progress writing to w.
func NewTerminalProgress(w io.Writer, opts TerminalOptions) *TerminalProgress {
	if opts.Every <= 0 {
		opts.Every = 50
	}
	if opts.Throttle <= 0 {
		opts.Throttle = 100 * time.Millisecond
	}
	useBar := isTerminal(w)
	if opts.Bar != nil {
		useBar = *opts.Bar
	}
	return &TerminalProgress{w: w, opts: opts, useB: useBar}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Update implements Progress.
func (p *TerminalProgress) Update(u ProgressUpdate) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.useB {
		if u.Step%p.opts.Every == 0 || u.Step == u.StepsPerEpoch {
			fmt.Fprintf(p.w, "epoch %d/%d step %d/%d %s\n", u.Epoch, u.Epochs, u.Step, u.StepsPerEpoch, stats(u))
		}
		return
	}
	newEpoch := p.bar == nil || p.epoch != u.Epoch
	if !newEpoch && u.Step < u.StepsPerEpoch && time.Since(p.drawn) < p.opts.Throttle {
		return
	}
	if newEpoch {
		p.finishBar()
		p.epoch = u.Epoch
		p.bar = progressbar.NewOptions(u.StepsPerEpoch,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetWidth(25),
			progressbar.OptionSetPredictTime(false), // ours covers the run, not the epoch
			progressbar.OptionSetElapsedTime(false),
			progressbar.OptionShowDescriptionAtLineEnd(),
			progressbar.OptionSetTheme(progressbar.ThemeASCII),
		)
	}
	// Set redraws only when the percentage changes (no count or rate
	// options are on), and Describe always redraws, so the last drawing of
	// each update shows both the new count and the new numbers.
	p.bar.Set(u.Step)
	p.bar.Describe(fmt.Sprintf("epoch %d/%d step %d/%d %s", u.Epoch, u.Epochs, u.Step, u.StepsPerEpoch, stats(u)))
	p.drawn = time.Now()
}

// stats formats the numbers both modes show.
func stats(u ProgressUpdate) string {
	return fmt.Sprintf("loss %.4f acc %5.1f%% %6.0f img/s ETA %s", u.Loss, 100*u.Acc, u.ImagesPerS, formatETA(u.ETA))
}

// formatETA prints a duration to the second, or "?" when unknown.
func formatETA(d time.Duration) string {
	if d < 0 {
		return "?"
	}
	return d.Round(time.Second).String()
}

// finishBar ends the current bar on its own line.
func (p *TerminalProgress) finishBar() {
	if p.bar == nil {
		return
	}
	p.bar.Finish()
	fmt.Fprintln(p.w)
	p.bar = nil
}

// EpochDone implements Progress: it prints the epoch's metrics on a line
// of their own.
func (p *TerminalProgress) EpochDone(m EpochMetrics) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finishBar()
	line := fmt.Sprintf("epoch %d: train loss %.4f", m.Epoch, m.TrainLoss)
	if m.TrainAcc > 0 {
		line += fmt.Sprintf(" acc %.2f%%", 100*m.TrainAcc)
	}
	if m.TestLoss > 0 {
		line += fmt.Sprintf(" | test loss %.4f", m.TestLoss)
	}
	line += fmt.Sprintf(" | test acc %.2f%% | %.0f img/s | %s", 100*m.TestAcc, m.ImagesPerS,
		(time.Duration(m.ElapsedS * float64(time.Second))).Round(time.Second))
	fmt.Fprintln(p.w, line)
}

// Close implements Progress: it ends an unfinished bar (an interrupted
// epoch) so that what follows starts on a new line.
func (p *TerminalProgress) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finishBar()
	return nil
}

// Meter measures training throughput over a sliding window and predicts
// the time left in a run. Times are passed in, so it is deterministic to
// test and the loop decides what "now" is (after the device finished the
// step, not when it was submitted).
type Meter struct {
	window  time.Duration
	total   int64
	samples []meterSample // samples[head:] are in the window
	head    int
}

type meterSample struct {
	t            time.Time
	step, images int64
}

// NewMeter starts measuring at now, with step steps of totalSteps done
// (more than 0 when resuming). window is how far back rates look; 0 means
// 10 s, long enough to smooth out per-step jitter, short enough to follow
// real changes.
func NewMeter(now time.Time, step, totalSteps int64, window time.Duration) *Meter {
	if window <= 0 {
		window = 10 * time.Second
	}
	return &Meter{window: window, total: totalSteps, samples: []meterSample{{now, step, 0}}}
}

// Observe records that at now step steps are done and images images have
// been trained on since NewMeter.
func (m *Meter) Observe(now time.Time, step, images int64) {
	m.samples = append(m.samples, meterSample{now, step, images})
	// Drop samples older than the window, keeping the newest one before it
	// so the window is always fully covered. Dropping advances head; the
	// slice is compacted only when half of it is dead, so a step costs O(1)
	// amortised however many steps the window holds.
	for m.head+2 < len(m.samples) && now.Sub(m.samples[m.head+1].t) >= m.window {
		m.head++
	}
	if m.head > len(m.samples)/2 {
		m.samples = append(m.samples[:0], m.samples[m.head:]...)
		m.head = 0
	}
}

// Rate returns images per second and the predicted time to finish the
// run, from the samples in the window; ok is false until two samples
// with time between them exist.
func (m *Meter) Rate() (imagesPerS float64, eta time.Duration, ok bool) {
	first, last := m.samples[m.head], m.samples[len(m.samples)-1]
	dt := last.t.Sub(first.t).Seconds()
	if dt <= 0 || last.step <= first.step {
		return 0, -1, false
	}
	imagesPerS = float64(last.images-first.images) / dt
	secPerStep := dt / float64(last.step-first.step)
	left := float64(max(m.total-last.step, 0)) * secPerStep
	eta = time.Duration(math.Min(left, float64(math.MaxInt64)/float64(time.Second)) * float64(time.Second))
	return imagesPerS, eta, true
}

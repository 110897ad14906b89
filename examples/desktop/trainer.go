package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // decoders for the images to classify
	_ "image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/nfvk/nfvk/data"
	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/nfnet"
	"github.com/nfvk/nfvk/train"
)

// Config is what a training run of the app uses besides the device and the
// folder picked in the window.
type Config struct {
	// Size is the image side the folder's images are resized to, Channels
	// 1 (gray) or 3 (RGB).
	Size, Channels int
	// Model returns the network for inChans channels and numClasses
	// classes.
	Model func(inChans, numClasses int) nfnet.Config
	// Recipe is the training recipe.
	Recipe train.Recipe
	// RunsDir is where runs (metrics, checkpoints) are written.
	RunsDir string
}

// DefaultConfig trains nfnet.Nano with train.CIFARRecipe on 32x32 RGB
// images, as `nfvk train --data folder` does, writing runs to runs/.
func DefaultConfig() Config {
	return Config{Size: 32, Channels: 3, Model: nfnet.Nano, Recipe: train.CIFARRecipe(), RunsDir: "runs"}
}

// Point is one step of the chart.
type Point struct {
	Step int64
	V    float64
}

// State is what the window shows; App.State returns a copy.
type State struct {
	Running bool
	// Status is a line about the run (or the error that ended it).
	Status string
	// Loss is every step's training loss (Options.OnStep); Acc the running
	// training accuracy of the epoch (Progress updates).
	Loss, Acc []Point
	// Steps is the run's total number of steps, 0 before it is known.
	Steps int64
	// Classes are the trained model's classes; Prediction the last
	// classification ("" before one).
	Classes    []string
	Prediction string
	Err        error
}

// classifier is a trained model ready to classify: an eval-mode session of
// batch 1 on the device it was trained on, with the run's EMA weights.
type classifier struct {
	dev       *engine.Device
	sess      *train.Session
	c, h, w   int
	mean, std []float32
	classes   []string
	mu        sync.Mutex // the session is not safe for concurrent use
}

// close releases the session and the device; a classification in
// flight finishes first.
func (c *classifier) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess != nil {
		c.sess.Close()
		c.sess = nil
	}
	c.dev.Close()
}

// trainer is the app's model: it trains on a goroutine and classifies,
// reporting through its state and onChange (the window's Invalidate).
type trainer struct {
	cfg      Config
	onChange func()

	mu     sync.Mutex
	st     State
	cancel context.CancelFunc
	done   chan struct{} // closed when the current run's goroutine ends
	model  *classifier
}

func newTrainer(cfg Config, onChange func()) *trainer {
	return &trainer{cfg: cfg, onChange: onChange}
}

// State returns a copy of the state.
func (t *trainer) State() State {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.st
	s.Loss, s.Acc, s.Classes = slices.Clone(s.Loss), slices.Clone(s.Acc), slices.Clone(s.Classes)
	return s
}

// update changes the state under the lock and asks for a redraw.
func (t *trainer) update(f func(*State)) {
	t.mu.Lock()
	f(&t.st)
	t.mu.Unlock()
	t.onChange()
}

// Start trains a new model on the device (an index or name, as
// engine.Options.Device) with the folder dir (dir/train/<class>/*.png and
// dir/test/<class>/...), on a goroutine. The previous model is dropped.
func (t *trainer) Start(device, dir string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.st.Running {
		return errors.New("a run is in progress")
	}
	if t.model != nil {
		t.model.close()
		t.model = nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.cancel, t.done = cancel, make(chan struct{})
	t.st = State{Running: true, Status: "loading " + dir}
	go t.run(ctx, cancel, device, dir, t.done)
	return nil
}

// Stop ends the run in progress (its checkpoint is kept and classifies).
func (t *trainer) Stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cancel != nil {
		t.cancel()
	}
}

// Wait waits for the run in progress, if any, to end.
func (t *trainer) Wait() {
	t.mu.Lock()
	done := t.done
	t.mu.Unlock()
	if done != nil {
		<-done
	}
}

// Close stops a run and releases the model and its device.
func (t *trainer) Close() {
	t.Stop()
	t.Wait()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.model != nil {
		t.model.close()
		t.model = nil
	}
}

func (t *trainer) run(ctx context.Context, cancel context.CancelFunc, device, dir string, done chan struct{}) {
	defer close(done)
	defer cancel()
	m, status, err := t.train(ctx, device, dir)
	t.mu.Lock()
	t.model = m
	t.st.Running, t.st.Err = false, err
	if err != nil {
		t.st.Status = err.Error()
	} else {
		t.st.Status = status
		t.st.Classes = m.classes
	}
	t.mu.Unlock()
	t.onChange()
}

// train loads the data, trains and returns the trained classifier.
func (t *trainer) train(ctx context.Context, device, dir string) (_ *classifier, status string, err error) {
	cfg := t.cfg
	fo := data.FolderOptions{Width: cfg.Size, Height: cfg.Size, Channels: cfg.Channels, CenterCrop: true}
	trainDS, err := data.LoadImageFolder(filepath.Join(dir, "train"), fo)
	if err != nil {
		return nil, "", err
	}
	testDS, err := data.LoadImageFolder(filepath.Join(dir, "test"), fo)
	if err != nil {
		return nil, "", err
	}
	if !slices.Equal(trainDS.Classes, testDS.Classes) {
		return nil, "", fmt.Errorf("%s: train and test have different classes (%v, %v)", dir, trainDS.Classes, testDS.Classes)
	}
	stats := data.ComputeStats(trainDS)
	if err := trainDS.Normalize(stats); err != nil {
		return nil, "", err
	}
	if err := testDS.Normalize(stats); err != nil {
		return nil, "", err
	}
	rec := cfg.Recipe
	rec.Data, rec.DataDir, rec.Mean, rec.Std, rec.Classes = "folder", dir, stats.Mean, stats.Std, trainDS.Classes

	dev, err := engine.Open(engine.Options{Device: device})
	if err != nil {
		return nil, "", fmt.Errorf("open the Vulkan device: %w", err)
	}
	defer func() {
		if err != nil {
			dev.Close()
		}
	}()
	t.update(func(s *State) {
		s.Status = fmt.Sprintf("training on %s: %d images, %d classes", dev.Info().Name, trainDS.N, trainDS.NumClasses())
	})
	o := train.Options{
		Kernels: kernels.New(dev), Model: cfg.Model(trainDS.C, trainDS.NumClasses()),
		Train: trainDS, Test: testDS, Recipe: rec, RunsDir: cfg.RunsDir,
		OnStep: func(step int64, loss float32) {
			t.update(func(s *State) { s.Loss = append(s.Loss, Point{step, float64(loss)}) })
		},
	}
	res, err := train.Train(ctx, o, &progress{t: t})
	if err != nil {
		return nil, "", err
	}
	// A stopped run's checkpoint classifies too: its context has ended,
	// the classifier's must not.
	m, err := loadClassifier(context.WithoutCancel(ctx), dev, res.Checkpoint)
	if err != nil {
		return nil, "", err
	}
	status = fmt.Sprintf("done: %d steps, test accuracy %.1f%%", res.Step, 100*res.TestAcc)
	if res.Interrupted {
		status = fmt.Sprintf("stopped after %d steps", res.Step)
	}
	return m, status, nil
}

// progress feeds the loop's progress into the chart.
type progress struct{ t *trainer }

func (p *progress) Update(u train.ProgressUpdate) {
	p.t.update(func(s *State) {
		s.Steps = int64(u.Epochs) * int64(u.StepsPerEpoch)
		step := int64(u.Epoch-1)*int64(u.StepsPerEpoch) + int64(u.Step)
		s.Acc = append(s.Acc, Point{step, u.Acc})
		s.Status = fmt.Sprintf("epoch %d/%d step %d/%d: loss %.4f, accuracy %.1f%%, %.0f images/s",
			u.Epoch, u.Epochs, u.Step, u.StepsPerEpoch, u.Loss, 100*u.Acc, u.ImagesPerS)
	})
}

func (p *progress) EpochDone(m train.EpochMetrics) {
	p.t.update(func(s *State) {
		s.Status = fmt.Sprintf("epoch %d: test accuracy %.1f%%", m.Epoch, 100*m.TestAcc)
	})
}

func (p *progress) Close() error { return nil }

// loadClassifier reads a checkpoint of the run into an eval session.
func loadClassifier(ctx context.Context, dev *engine.Device, path string) (*classifier, error) {
	ck, err := train.LoadCheckpoint(path)
	if err != nil {
		return nil, err
	}
	rec, err := train.LoadRecipe(ck)
	if err != nil {
		return nil, err
	}
	l, err := nfnet.NewLayout(ck.Config)
	if err != nil {
		return nil, err
	}
	m := &classifier{dev: dev, c: ck.Config.InChans, h: rec.Height, w: rec.Width, mean: rec.Mean, std: rec.Std, classes: rec.Classes}
	if m.sess, err = train.NewSession(ctx, l, train.SessionOptions{Kernels: kernels.New(dev), EvalBatch: 1, EvalHeight: m.h, EvalWidth: m.w}); err != nil {
		return nil, err
	}
	weights := make(map[string][]float32, len(ck.EMA))
	for k, v := range ck.EMA {
		weights[k] = v.Data
	}
	if err := m.sess.SetParams(weights); err != nil {
		m.sess.Close()
		return nil, err
	}
	return m, nil
}

// Classify predicts the class of the image file at path with the trained
// model and shows it.
func (t *trainer) Classify(ctx context.Context, path string) (string, error) {
	t.mu.Lock()
	m := t.model
	t.mu.Unlock()
	pred, err := t.classify(ctx, m, path)
	t.update(func(s *State) {
		s.Err = err
		if err != nil {
			s.Prediction = ""
			s.Status = err.Error()
			return
		}
		s.Prediction = pred
	})
	return pred, err
}

func (t *trainer) classify(ctx context.Context, m *classifier, path string) (string, error) {
	if m == nil {
		return "", errors.New("no trained model: train one first")
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	img, _, err := image.Decode(f)
	f.Close()
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	x := make([]float32, m.c*m.h*m.w)
	if err := data.ImageTensor(img, m.c, m.h, m.w, m.mean, m.std, x); err != nil {
		return "", err
	}
	m.mu.Lock()
	if m.sess == nil {
		m.mu.Unlock()
		return "", errors.New("the model was closed")
	}
	logits, err := m.sess.Forward(ctx, x, train.Current)
	m.mu.Unlock()
	if err != nil {
		return "", err
	}
	best, p := argmaxSoftmax(logits)
	name := fmt.Sprint(best)
	if best < len(m.classes) {
		name = m.classes[best]
	}
	return fmt.Sprintf("%s (%.1f%%)", name, 100*p), nil
}

// argmaxSoftmax returns the index of the largest logit and its
// probability.
func argmaxSoftmax(l []float32) (int, float64) {
	best := 0
	for i, v := range l {
		if v > l[best] {
			best = i
		}
	}
	var s float64
	for _, v := range l {
		s += math.Exp(float64(v - l[best]))
	}
	return best, 1 / s
}

package data

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// ErrClosed is returned by Next after Close.
var ErrClosed = errors.New("data: loader closed")

// Loader streams a Pipeline's batches from Config.Start onwards, preparing
// them on its own goroutine so the host builds batch i+1 while the device
// runs step i. The channel between them holds up to Config.Prefetch
// finished batches. Stop it with Close or by cancelling the context given
// to NewLoader; either way its goroutine exits.
//
// Next is meant for one consumer goroutine; Close and Recycle may be
// called from any goroutine.
type Loader struct {
	p      *Pipeline
	ctx    context.Context
	epochs int
	out    chan *Batch
	free   chan *Batch
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool
	err    error // why the producer stopped; set before out is closed
}

// NewLoader validates ds and cfg and starts the producer goroutine.
func NewLoader(ctx context.Context, ds *Dataset, cfg Config) (*Loader, error) {
	p, err := NewPipeline(ds, cfg)
	if err != nil {
		return nil, err
	}
	return StartLoader(ctx, p), nil
}

// StartLoader starts a loader over any pipeline (NewStreamPipeline's),
// with the pipeline's Config (Prefetch, Start, Epochs).
func StartLoader(ctx context.Context, p *Pipeline) *Loader {
	cfg := p.cfg
	depth := cfg.Prefetch
	if depth == 0 {
		depth = 2
	}
	ctx, cancel := context.WithCancel(ctx)
	l := &Loader{
		p:      p,
		ctx:    ctx,
		epochs: cfg.Epochs,
		out:    make(chan *Batch, depth),
		free:   make(chan *Batch, depth+2),
		cancel: cancel,
	}
	l.wg.Go(func() { l.run(ctx, cfg.Start) })
	return l
}

// Pipeline returns the loader's pipeline (for StepsPerEpoch, PositionAt).
func (l *Loader) Pipeline() *Pipeline { return l.p }

func (l *Loader) run(ctx context.Context, pos Position) {
	defer close(l.out)
	for l.epochs == 0 || pos.Epoch < l.epochs {
		var dst *Batch
		select {
		case dst = <-l.free:
		default:
		}
		b, err := l.p.Batch(pos, dst)
		if err != nil {
			l.err = err
			return
		}
		select {
		case l.out <- b:
		case <-ctx.Done():
			l.err = ctx.Err()
			return
		}
		pos = l.p.Next(pos)
	}
	l.err = io.EOF
}

// Next returns the next batch. It returns io.EOF after the last batch of
// Config.Epochs, ErrClosed after Close, the NewLoader context's error once
// that is cancelled, and ctx's error if ctx ends first while waiting.
// The batch belongs to the caller until it passes it to Recycle.
func (l *Loader) Next(ctx context.Context) (*Batch, error) {
	if l.closed.Load() {
		return nil, ErrClosed
	}
	if err := l.ctx.Err(); err != nil {
		// Close marks the loader closed before it cancels: a Close that
		// ran between the check above and this one is still ErrClosed.
		if l.closed.Load() {
			return nil, ErrClosed
		}
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case b, ok := <-l.out:
		if !ok {
			if l.closed.Load() {
				return nil, ErrClosed
			}
			return nil, l.err
		}
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Recycle hands a batch the caller no longer uses (nor the device reads)
// back to the loader to refill, saving its allocation. Optional.
func (l *Loader) Recycle(b *Batch) {
	if b == nil {
		return
	}
	select {
	case l.free <- b:
	default:
	}
}

// Close stops the producer and waits for its goroutine to exit. It is
// idempotent and always returns nil.
func (l *Loader) Close() error {
	l.closed.Store(true)
	l.cancel()
	l.wg.Wait()
	return nil
}

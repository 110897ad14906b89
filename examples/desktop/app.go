package main

import (
	"context"
	"fmt"
	"image/color"
	"strconv"

	"gioui.org/app"
	"gioui.org/font/gofont"
	"gioui.org/layout"
	"gioui.org/op"
	"gioui.org/text"
	"gioui.org/unit"
	"gioui.org/widget"
	"gioui.org/widget/material"

	"github.com/nfvk/nfvk/engine"
)

// App is the window's state: the trainer (the model: training, the chart's
// data, classification) and the widgets. Layout and the widgets belong to
// the window's goroutine; the trainer reports from its own goroutines and
// asks for frames through the window's Invalidate.
type App struct {
	*trainer
	win *app.Window
	th  *material.Theme

	devices []engine.DeviceInfo
	devErr  error

	// calls are functions to run on the window's goroutine (Do).
	calls chan func()

	device                      widget.Enum
	dataDir, imagePath          widget.Editor
	trainBtn, stopBtn, classify widget.Clickable

	// afterFrame, when set, is called on the window's goroutine with each
	// frame's operations after the window drew them (the test's
	// screenshots).
	afterFrame func(ops *op.Ops, e app.FrameEvent)
}

// NewApp returns the app of window w, training with cfg. The devices
// offered are engine.Devices'.
func NewApp(w *app.Window, cfg Config) *App {
	a := &App{win: w, th: material.NewTheme(), calls: make(chan func(), 16)}
	a.th.Shaper = text.NewShaper(text.WithCollection(gofont.Collection()))
	a.trainer = newTrainer(cfg, w.Invalidate)
	a.devices, a.devErr = engine.Devices()
	if len(a.devices) > 0 {
		a.device.Value = strconv.Itoa(a.devices[0].Index)
	}
	a.dataDir.SingleLine, a.imagePath.SingleLine = true, true
	a.dataDir.Submit, a.imagePath.Submit = true, true
	return a
}

// Run handles the window's events until it is closed, then stops a run in
// progress and releases the device.
func (a *App) Run() error {
	defer a.Close()
	var ops op.Ops
	for {
		switch e := a.win.Event().(type) {
		case app.DestroyEvent:
			return e.Err
		case app.FrameEvent:
			for len(a.calls) > 0 {
				(<-a.calls)()
			}
			gtx := app.NewContext(&ops, e)
			a.Layout(gtx)
			e.Frame(gtx.Ops)
			if a.afterFrame != nil {
				a.afterFrame(gtx.Ops, e)
			}
		}
	}
}

// Do runs f on the window's goroutine before its next frame: the widgets
// are that goroutine's alone.
func (a *App) Do(f func()) {
	a.calls <- f
	a.win.Invalidate()
}

// TrainClicked is the Train button's handler: it trains on the chosen
// device with the folder in the path field.
func (a *App) TrainClicked() error {
	return a.Start(a.device.Value, a.dataDir.Text())
}

// ClassifyClicked is the Classify button's handler: it classifies the image
// in the path field on a goroutine (the result shows in the window).
func (a *App) ClassifyClicked() {
	path := a.imagePath.Text()
	go a.Classify(context.Background(), path)
}

// update handles the widgets' events.
func (a *App) update(gtx layout.Context) {
	a.device.Update(gtx)
	trainSub, classifySub := submitted(gtx, &a.dataDir), submitted(gtx, &a.imagePath)
	if a.trainBtn.Clicked(gtx) || trainSub {
		if err := a.TrainClicked(); err != nil {
			a.trainer.update(func(s *State) { s.Status = err.Error() })
		}
	}
	if a.stopBtn.Clicked(gtx) {
		a.Stop()
	}
	if a.classify.Clicked(gtx) || classifySub {
		a.ClassifyClicked()
	}
}

// submitted reports whether Enter was pressed in ed since the last frame.
func submitted(gtx layout.Context, ed *widget.Editor) bool {
	sub := false
	for {
		ev, ok := ed.Update(gtx)
		if !ok {
			return sub
		}
		if _, ok := ev.(widget.SubmitEvent); ok {
			sub = true
		}
	}
}

// Layout draws the window: the devices, the folder and the buttons, the
// status line, the chart, and the image to classify with its prediction.
func (a *App) Layout(gtx layout.Context) layout.Dimensions {
	a.update(gtx)
	st := a.State()
	th := a.th
	inset := layout.UniformInset(unit.Dp(8))
	rows := []layout.FlexChild{
		layout.Rigid(func(gtx layout.Context) layout.Dimensions {
			return inset.Layout(gtx, material.H6(th, "nfvk: train an NFNet on an image folder").Layout)
		}),
		layout.Rigid(func(gtx layout.Context) layout.Dimensions {
			return inset.Layout(gtx, a.layoutDevices)
		}),
		layout.Rigid(func(gtx layout.Context) layout.Dimensions {
			return inset.Layout(gtx, func(gtx layout.Context) layout.Dimensions {
				return layout.Flex{Alignment: layout.Middle}.Layout(gtx,
					layout.Flexed(1, field(th, &a.dataDir, "image folder: DIR with train/<class>/ and test/<class>/")),
					layout.Rigid(button(th, &a.trainBtn, "Train", !st.Running && len(a.devices) > 0)),
					layout.Rigid(button(th, &a.stopBtn, "Stop", st.Running)),
				)
			})
		}),
		layout.Rigid(func(gtx layout.Context) layout.Dimensions {
			return inset.Layout(gtx, material.Body2(th, st.Status).Layout)
		}),
		layout.Flexed(1, func(gtx layout.Context) layout.Dimensions {
			return inset.Layout(gtx, func(gtx layout.Context) layout.Dimensions {
				return layoutChart(gtx, th, st)
			})
		}),
		layout.Rigid(func(gtx layout.Context) layout.Dimensions {
			return inset.Layout(gtx, func(gtx layout.Context) layout.Dimensions {
				return layout.Flex{Alignment: layout.Middle}.Layout(gtx,
					layout.Flexed(1, field(th, &a.imagePath, "image to classify (PNG or JPEG)")),
					layout.Rigid(button(th, &a.classify, "Classify", len(st.Classes) > 0)),
				)
			})
		}),
		layout.Rigid(func(gtx layout.Context) layout.Dimensions {
			text := "prediction: -"
			if st.Prediction != "" {
				text = "prediction: " + st.Prediction
			}
			return inset.Layout(gtx, material.H6(th, text).Layout)
		}),
	}
	return layout.Flex{Axis: layout.Vertical}.Layout(gtx, rows...)
}

// layoutDevices draws one radio button per Vulkan device.
func (a *App) layoutDevices(gtx layout.Context) layout.Dimensions {
	if a.devErr != nil || len(a.devices) == 0 {
		msg := "no Vulkan device"
		if a.devErr != nil {
			msg = fmt.Sprintf("no Vulkan device: %v", a.devErr)
		}
		return material.Body1(a.th, msg).Layout(gtx)
	}
	if a.Running() {
		gtx = gtx.Disabled()
	}
	children := []layout.FlexChild{layout.Rigid(material.Body1(a.th, "device:").Layout)}
	for _, d := range a.devices {
		label := fmt.Sprintf("%s (%s)", d.Name, d.Type)
		children = append(children, layout.Rigid(material.RadioButton(a.th, &a.device, strconv.Itoa(d.Index), label).Layout))
	}
	return layout.Flex{Alignment: layout.Middle}.Layout(gtx, children...)
}

// Running reports whether a run is in progress.
func (a *App) Running() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.st.Running
}

// button draws a button left of a gap, greyed out and inert unless
// enabled.
func button(th *material.Theme, c *widget.Clickable, label string, enabled bool) layout.Widget {
	return func(gtx layout.Context) layout.Dimensions {
		if !enabled {
			gtx = gtx.Disabled()
		}
		return layout.Inset{Left: unit.Dp(8)}.Layout(gtx, material.Button(th, c, label).Layout)
	}
}

// field draws a one-line editor with a border.
func field(th *material.Theme, ed *widget.Editor, hint string) layout.Widget {
	return func(gtx layout.Context) layout.Dimensions {
		b := widget.Border{Color: color.NRGBA{A: 0x60}, CornerRadius: unit.Dp(4), Width: unit.Dp(1)}
		return b.Layout(gtx, func(gtx layout.Context) layout.Dimensions {
			return layout.UniformInset(unit.Dp(6)).Layout(gtx, material.Editor(th, ed, hint).Layout)
		})
	}
}

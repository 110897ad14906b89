package main

import (
	"fmt"
	"image"
	"image/color"

	"gioui.org/f32"
	"gioui.org/layout"
	"gioui.org/op"
	"gioui.org/op/clip"
	"gioui.org/op/paint"
	"gioui.org/unit"
	"gioui.org/widget/material"
)

// The chart's colours: the per-step loss and the running accuracy.
var (
	lossColor = color.NRGBA{R: 0xd3, G: 0x2f, B: 0x2f, A: 0xff}
	accColor  = color.NRGBA{R: 0x19, G: 0x76, B: 0xd2, A: 0xff}
	gridColor = color.NRGBA{R: 0xdd, G: 0xdd, B: 0xdd, A: 0xff}
	chartBg   = color.NRGBA{R: 0xfa, G: 0xfa, B: 0xfa, A: 0xff}
)

// layoutChart draws the run's loss (left scale, 0 to its maximum) and
// training accuracy (right scale, 0-100%) against the step, over the whole
// run once its length is known.
func layoutChart(gtx layout.Context, th *material.Theme, st State) layout.Dimensions {
	maxLoss := 0.0
	for _, p := range st.Loss {
		maxLoss = max(maxLoss, p.V)
	}
	lastStep := st.Steps
	if n := len(st.Loss); n > 0 {
		lastStep = max(lastStep, st.Loss[n-1].Step)
	}
	legend := fmt.Sprintf("loss (0 to %.2f)", maxLoss)
	return layout.Flex{Axis: layout.Vertical}.Layout(gtx,
		layout.Rigid(func(gtx layout.Context) layout.Dimensions {
			return layout.Flex{}.Layout(gtx,
				layout.Rigid(label(th, legend, lossColor)),
				layout.Rigid(layout.Spacer{Width: unit.Dp(16)}.Layout),
				layout.Rigid(label(th, "training accuracy (0 to 100%)", accColor)),
				layout.Rigid(layout.Spacer{Width: unit.Dp(16)}.Layout),
				layout.Rigid(label(th, fmt.Sprintf("step %d of %d", len(st.Loss), lastStep), th.Fg)),
			)
		}),
		layout.Flexed(1, func(gtx layout.Context) layout.Dimensions {
			size := gtx.Constraints.Max
			paint.FillShape(gtx.Ops, chartBg, clip.Rect{Max: size}.Op())
			w, h := float32(size.X), float32(size.Y)
			for i := 1; i < 4; i++ {
				y := int(h * float32(i) / 4)
				paint.FillShape(gtx.Ops, gridColor, clip.Rect{Min: image.Pt(0, y), Max: image.Pt(size.X, y+1)}.Op())
			}
			if lastStep > 0 {
				stroke := float32(gtx.Dp(unit.Dp(2)))
				plot(gtx.Ops, st.Loss, lastStep, maxLoss, w, h, stroke, lossColor)
				plot(gtx.Ops, st.Acc, lastStep, 1, w, h, stroke, accColor)
			}
			return layout.Dimensions{Size: size}
		}),
	)
}

// plot strokes pts as a line, x from step 0 to lastStep across w and y
// from 0 to top up h.
func plot(ops *op.Ops, pts []Point, lastStep int64, top float64, w, h, width float32, c color.NRGBA) {
	if len(pts) == 0 || top <= 0 {
		return
	}
	at := func(p Point) f32.Point {
		v := min(max(p.V/top, 0), 1)
		return f32.Pt(w*float32(p.Step)/float32(lastStep), h-float32(v)*(h-width)-width/2)
	}
	var path clip.Path
	path.Begin(ops)
	path.MoveTo(at(Point{0, pts[0].V}))
	for _, p := range pts {
		path.LineTo(at(p))
	}
	paint.FillShape(ops, c, clip.Stroke{Path: path.End(), Width: width}.Op())
}

// label draws text in colour c.
func label(th *material.Theme, text string, c color.NRGBA) layout.Widget {
	l := material.Body2(th, text)
	l.Color = c
	return l.Layout
}

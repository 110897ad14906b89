package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// Compare prints the figures of two reports side by side with the ratio
// B/A, like benchstat: every figure of every case in both, the cases in
// only one listed as such, and the geometric mean of the ratios of each
// case's first figure. Higher is better for rates (GFLOP/s, GB/s,
// images/s), lower for times (gpu_us, us/dispatch): the ratio is just
// B/A, whatever the unit.
func Compare(w io.Writer, nameA string, a *Report, nameB string, b *Report) error {
	for _, r := range []struct {
		tag, name string
		rep       *Report
	}{{"A", nameA, a}, {"B", nameB, b}} {
		d := r.rep.Device
		fmt.Fprintf(w, "%s: %s: %s on %s (%s), vulkan %s, %s\n", r.tag, r.name, r.rep.Nfvk, d.Name, d.Driver, d.Vulkan,
			r.rep.Date.UTC().Format("2006-01-02 15:04 MST"))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "case\tunit\tA\tB\tB/A")
	inB := map[string]CaseResult{}
	for _, c := range b.Cases {
		inB[c.Name] = c
	}
	seen := map[string]bool{}
	logSum, n := 0.0, 0
	for _, ca := range a.Cases {
		seen[ca.Name] = true
		cb, ok := inB[ca.Name]
		if !ok {
			fmt.Fprintf(tw, "%s\t\tonly in A\n", ca.Name)
			continue
		}
		if why := missing(ca, "A") + missing(cb, "B"); why != "" {
			fmt.Fprintf(tw, "%s\t\t%s\n", ca.Name, strings.TrimSpace(why))
			continue
		}
		for i, fa := range ca.Figures {
			vb, ok := figure(cb, fa.Unit)
			if !ok {
				fmt.Fprintf(tw, "%s\t%s\t%s\tnot in B\n", ca.Name, fa.Unit, Num(fa.Value))
				continue
			}
			ratio := "-"
			if fa.Value != 0 {
				ratio = fmt.Sprintf("%.2f", vb/fa.Value)
				if i == 0 && vb > 0 && fa.Value > 0 {
					logSum += math.Log(vb / fa.Value)
					n++
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", ca.Name, fa.Unit, Num(fa.Value), Num(vb), ratio)
		}
	}
	for _, cb := range b.Cases {
		if !seen[cb.Name] {
			fmt.Fprintf(tw, "%s\t\t\tonly in B\n", cb.Name)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if n > 0 {
		fmt.Fprintf(w, "\ngeomean of B/A over each case's first figure (%d cases): %.2f\n", n, math.Exp(logSum/float64(n)))
	}
	return nil
}

// missing says why a case has no figures in report tag, or "".
func missing(c CaseResult, tag string) string {
	switch {
	case c.Error != "":
		return "failed in " + tag + " "
	case c.Skipped != "":
		return "skipped in " + tag + " "
	}
	return ""
}

func figure(c CaseResult, unit string) (float64, bool) {
	for _, f := range c.Figures {
		if f.Unit == unit {
			return f.Value, true
		}
	}
	return 0, false
}

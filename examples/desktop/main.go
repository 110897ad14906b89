// Command desktop is a desktop app on the nfvk library: it trains an NFNet
// on an image folder on a chosen Vulkan device, charting the loss and the
// accuracy as the steps come in, and classifies an image with the model.
package main

import (
	"log"
	"os"

	"gioui.org/app"
	"gioui.org/unit"
)

func main() {
	w := new(app.Window)
	w.Option(app.Title("nfvk"), app.Size(unit.Dp(900), unit.Dp(700)))
	a := NewApp(w, DefaultConfig())
	go func() {
		if err := a.Run(); err != nil {
			log.Fatal(err)
		}
		os.Exit(0)
	}()
	app.Main()
}

package cmdutil

import (
	"runtime"
	"testing"
)

func TestOneProcForEvents(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(4)
	OneProcForEvents(Env{Getenv: func(string) string { return "" }})
	if n := runtime.GOMAXPROCS(0); n != 1 {
		t.Fatalf("GOMAXPROCS = %d, want 1", n)
	}
	runtime.GOMAXPROCS(4)
	OneProcForEvents(Env{Getenv: func(k string) string {
		if k == "GOMAXPROCS" {
			return "4"
		}
		return ""
	}})
	if n := runtime.GOMAXPROCS(0); n != 4 {
		t.Fatalf("GOMAXPROCS = %d with GOMAXPROCS=4 in the environment, want 4", n)
	}
}

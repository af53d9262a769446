package main

import (
	"reflect"
	"strings"
	"testing"
)

// TestSamplesAndProfile: perf script lines become addresses by program
// (other symbols dropped), and addresses go to the line whose code holds
// them, counted most first.
func TestSamplesAndProfile(t *testing.T) {
	in := strings.Join([]string{
		"ffffffffc0001010 bpf_prog_5bfb4ab22a4362f5_set_state_btf",
		"ffffffffc0001000 bpf_prog_5bfb4ab22a4362f5_set_state_btf",
		"ffffffffc000101f bpf_prog_5bfb4ab22a4362f5_set_state_btf",
		"ffffffffc0000fff bpf_prog_5bfb4ab22a4362f5_set_state_btf",
		"ffffffff81000000 tcp_set_state",
		"ffffffffc0002000 bpf_prog_1d00d02714100642_set_state_btf2",
		"not a sample",
	}, "\n")
	got, err := samples(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]uint64{
		"set_state_btf":  {0xffffffffc0001010, 0xffffffffc0001000, 0xffffffffc000101f, 0xffffffffc0000fff},
		"set_state_btf2": {0xffffffffc0002000},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("samples: %v, want %v", got, want)
	}
	table := &lineTable{addrs: []uint64{0xffffffffc0001010, 0xffffffffc0001000}, lines: []string{"b", "a"}}
	sortTable(table)
	p := profile(table, got["set_state_btf"])
	wantP := []lineCount{{"b", 2}, {"", 1}, {"a", 1}}
	if !reflect.DeepEqual(p, wantP) {
		t.Fatalf("profile: %v, want %v", p, wantP)
	}
}

func TestProgName(t *testing.T) {
	for sym, want := range map[string]string{
		"bpf_prog_5bfb4ab22a4362f5_set_state_btf": "set_state_btf",
		"bpf_prog_61fcf7db50844477_accept4_plain": "accept4_plain",
		"bpf_prog_5bfb4ab22a4362f5":               "",
		"tcp_set_state":                           "",
	} {
		if got, ok := progName(sym); got != want || ok != (want != "") {
			t.Errorf("progName(%q) = %q, %v; want %q", sym, got, ok, want)
		}
	}
}

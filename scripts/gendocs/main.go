// Command gendocs writes bpfnetstat's manual pages and shell completion
// scripts from its command tree (make man, make install, make deb):
//
//	go run ./scripts/gendocs -man DIR -completions DIR
//
// The pages' date is SOURCE_DATE_EPOCH when set (the Makefile passes the
// last commit's time), so a rebuild of the same commit writes the same
// bytes.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/bpfnetstat/bpfnetstat/internal/docgen"
)

func main() {
	man := flag.String("man", "", "write the section-8 manual pages into this directory")
	comp := flag.String("completions", "", "write the bash, zsh and fish completion scripts under this directory")
	flag.Parse()
	if *man == "" && *comp == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: gendocs [-man DIR] [-completions DIR]")
		os.Exit(2)
	}
	date := time.Now().UTC()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			fmt.Fprintf(os.Stderr, "gendocs: SOURCE_DATE_EPOCH: %v\n", err)
			os.Exit(1)
		}
		date = time.Unix(sec, 0).UTC()
	}
	if *man != "" {
		if err := docgen.WriteManPages(*man, date); err != nil {
			fmt.Fprintf(os.Stderr, "gendocs: %v\n", err)
			os.Exit(1)
		}
	}
	if *comp != "" {
		if err := docgen.WriteCompletions(*comp); err != nil {
			fmt.Fprintf(os.Stderr, "gendocs: %v\n", err)
			os.Exit(1)
		}
	}
}

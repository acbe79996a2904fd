package main

// The flavors the benchmarks load projects of.
import _ "github.com/ukdev/ukdev/flavor/all"

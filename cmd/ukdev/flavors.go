package main

// The flavors ukdev runs: registering them is what makes ukdev.toml's
// flavor key accept their names.
import _ "github.com/ukdev/ukdev/flavor/all"

package devloop

// The tests load projects of every flavor.
import _ "github.com/ukdev/ukdev/flavor/all"

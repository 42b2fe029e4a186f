package load

// The tests are in package load_test: they start the real app, and package
// app imports this one to run `orderflow load`. These aliases let them reach
// the helpers worth testing on their own.
var (
	Percentile = percentile
	TargetURL  = graphqlURL
)

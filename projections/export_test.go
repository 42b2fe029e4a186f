package projections

// ListingQueries are the queries of Products and Customers, for the test
// that their pages are range scans of the primary key.
var ListingQueries = map[string]string{
	"products":  selectProduct + pageByID,
	"customers": selectCustomer + pageByID,
}

// DeadlinesDefinition is the deadlines read model alone, for a test of a
// log the orders read model refuses (an order placed twice).
var DeadlinesDefinition = deadlinesDefinition

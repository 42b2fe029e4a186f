package projections

// ListingQueries are the queries of Products and Customers, for the test
// that their pages are range scans of the primary key.
var ListingQueries = map[string]string{
	"products":  selectProduct + pageByID,
	"customers": selectCustomer + pageByID,
}

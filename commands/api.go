package commands

// apiContext declares the API: it owns no stream; it serves GraphQL from
// read models built from every family, and hands each command to the
// context that carries it out.
var apiContext = Context{
	Name:       ContextAPI,
	CopiesAll:  true,
	ReadModels: []string{"orders", "products", "stock", "customers", "notifications", "payments", "cancellations", "deadlines"},
}

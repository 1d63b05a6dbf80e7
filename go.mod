module github.com/odoo-agi/odoo-agi

go 1.26.8

require (
	github.com/CyCoreSystems/agi v0.6.4
	github.com/hashicorp/golang-lru/v2 v2.0.7
	github.com/kolo/xmlrpc v0.0.0-20220921171641-a4b6fa1dd06b
	github.com/nyaruka/phonenumbers/v2 v2.0.7
)

require (
	github.com/pkg/errors v0.8.1 // indirect
	golang.org/x/text v0.44.0 // indirect
	google.golang.org/protobuf v1.36.11 // indirect
)

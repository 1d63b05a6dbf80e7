module github.com/odoo-agi/odoo-agi

go 1.26.8

require github.com/CyCoreSystems/agi v0.6.4

require github.com/pkg/errors v0.8.1 // indirect

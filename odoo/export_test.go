package odoo

// ResponseValue is the fast XML-RPC response reader, for tests that feed
// it what the emulator serves.
var ResponseValue = responseValue

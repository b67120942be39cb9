package mcpserver

// IsTool exposes isTool to the external tests.
var IsTool = isTool

"""The web's shared layer: page chrome, static files, error mapping, security headers, request keys, the
websocket hub and the OpenAPI assembly. Feature slices (`screenpop/<feature>/`) build on it."""

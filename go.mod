module github.com/sessionproxy/sessionproxy

go 1.26.8

require (
	github.com/golang-jwt/jwt/v5 v5.3.1
	github.com/gorilla/securecookie v1.1.2
)

require gopkg.in/yaml.v3 v3.0.1 // indirect

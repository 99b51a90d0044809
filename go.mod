module thinkgate

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/fsnotify/fsnotify v1.10.1
	github.com/gobwas/ws v1.5.0
)

require (
	github.com/gobwas/httphead v0.1.0 // indirect
	golang.org/x/sys v0.13.0 // indirect
)

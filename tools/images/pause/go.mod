module github.com/ws-drain/ws-drain/tools/images/pause

go 1.24

module github.com/ws-drain/ws-drain/helper

go 1.22

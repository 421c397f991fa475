module github.com/dayops/dayops

go 1.26.8

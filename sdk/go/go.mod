module linkloom

go 1.19

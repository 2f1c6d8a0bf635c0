// Command seed-backend serves the seed's four tasks with the Link Loom Go
// SDK (package seed):
//
//	go run ./examples/seed-backend [-a ADDR] [-p PORT]      (127.0.0.1:8090)
//
// With LOOM_SDK_SIGNING_SECRET set, every request must be signed with it.
// The first stdout line is "port N".
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"

	"linkloom/examples/seed"
)

func main() {
	addr := flag.String("a", "127.0.0.1", "address to listen on")
	port := flag.Int("p", 8090, "port (0: any free one)")
	flag.Parse()
	ln, err := net.Listen("tcp", net.JoinHostPort(*addr, strconv.Itoa(*port)))
	if err != nil {
		log.Fatal(err)
	}
	p := ln.Addr().(*net.TCPAddr).Port
	b := &seed.Backend{BaseURL: fmt.Sprintf("http://%s", net.JoinHostPort(*addr, strconv.Itoa(p)))}
	fmt.Printf("port %d\n", p)
	log.Fatal(http.Serve(ln, b.Mux(os.Getenv("LOOM_SDK_SIGNING_SECRET"))))
}

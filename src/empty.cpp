// Every module library links even before it has sources of its own.

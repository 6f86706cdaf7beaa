# reads a file
import "secret" as $s {search: "/tmp"};
def when: $s;

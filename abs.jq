import "/etc/passwd" as $s;
def when: .state;

def when: last(range(1e15));

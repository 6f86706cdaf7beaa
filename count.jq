def when: .state;

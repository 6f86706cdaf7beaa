include "lib";
def when: .state;

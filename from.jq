def from: (last(range(1e15)) | {});
def when: .state;

def when: {import: "a # include", x: "\(.event.data | tostring) import"} | .import;

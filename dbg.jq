def when: (.event | debug | stderr) | "MARK-\(.event.position)-printed";

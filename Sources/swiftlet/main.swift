import CLI

await SwiftletCommand.runMain()

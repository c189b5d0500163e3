import ForbcCommands
import ForbcCore
import Foundation

// SIGCHLD inherited ignored would make every child's exit read as status 0 (see RealGit.reportChildExits).
RealGit.reportChildExits()
exit(ForbcCommand.run(Array(CommandLine.arguments.dropFirst())))

import ForbcCommands
import Foundation

exit(ForbcCommand.run(Array(CommandLine.arguments.dropFirst())))

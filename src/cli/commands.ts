// One line per subcommand module; each exports `register(program)`.
import type { Command } from 'commander';

export const commands: Array<(program: Command) => void> = [];

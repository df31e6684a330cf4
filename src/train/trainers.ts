// Every trainer module, one line each; importing one registers it (src/train/registry.ts).
import './yolo/register.ts';
import './gan/register.ts';

// fashion_resnet: trains the fashion-resnet workload (a 16-32-64 ResNet with batch norm,
// SGD with momentum and weight decay, cosine learning rate) on Fashion-MNIST and reports
// speed, memory and accuracy (measured in eval mode, with the running statistics).
//
//   fashion_resnet [--mode eager|graph] [--device cpu|cuda] [--epochs N] [--steps N] [--batch B]
//                  [--lr X] [--threads T] [--data DIR] [--limit N] [--seed S] [--json PATH]
#include "examples/common/example_main.h"

int main(int argc, char** argv) {
  return duet::workloads::example_main(argc, argv, "fashion_resnet", "fashion-resnet");
}
